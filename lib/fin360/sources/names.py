"""Vocabulary for synthetic people and places: names, cities, districts, roads, phones, e-mail.

Everything here is plain data. Every Chinese string must be encodable in GBK, because the
Guangzhou branch delivers its CRM files in GBK (checked by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NamePart:
    """A Chinese surname or given-name character with its pinyin and relative frequency."""

    hanzi: str
    pinyin: str
    weight: float = 1.0


@dataclass(frozen=True)
class District:
    """A city district; `code` is its 6-digit administrative area code."""

    code: str
    cn: str
    en: str


@dataclass(frozen=True)
class City:
    """A domestic city with a bank branch (`branch` is the CRM branch code)."""

    branch: str
    cn: str
    en: str
    province: str
    lat: float
    lon: float
    weight: float
    districts: tuple[District, ...]


@dataclass(frozen=True)
class ForeignCity:
    """A city abroad where cards are used; `utc_offset_minutes` is the (standard) local offset."""

    en: str
    country: str
    currency: str
    utc_offset_minutes: int
    lat: float
    lon: float


def _name_parts(table: str) -> tuple[NamePart, ...]:
    """Parse whitespace separated `hanzi:pinyin[:weight]` items."""
    parts = []
    for item in table.split():
        hanzi, pinyin, *weight = item.split(":")
        parts.append(NamePart(hanzi, pinyin, float(weight[0]) if weight else 1.0))
    return tuple(parts)


def _words(table: str) -> tuple[str, ...]:
    """Parse a whitespace separated word list."""
    return tuple(table.split())


def _districts(table: str) -> tuple[District, ...]:
    """Parse whitespace separated `code:中文:English` items."""
    return tuple(District(*item.split(":")) for item in table.split())


SURNAMES = _name_parts(
    """
    王:wang:7.1 李:li:7.0 张:zhang:6.7 刘:liu:5.4 陈:chen:4.5 杨:yang:3.1 黄:huang:2.2
    赵:zhao:2.1 吴:wu:2.0 周:zhou:1.9 徐:xu:1.3 孙:sun:1.3 马:ma:1.2 朱:zhu:1.1 胡:hu:1.1
    郭:guo:1.1 何:he:1.0 林:lin:1.0 高:gao:1.0 罗:luo:0.9 郑:zheng:0.9 梁:liang:0.9
    谢:xie:0.7 宋:song:0.7 唐:tang:0.7 许:xu:0.6 韩:han:0.6 冯:feng:0.6 邓:deng:0.6
    曹:cao:0.6 彭:peng:0.5 曾:zeng:0.5 肖:xiao:0.5 田:tian:0.5 董:dong:0.5 潘:pan:0.4
    袁:yuan:0.4 蔡:cai:0.4 蒋:jiang:0.4 余:yu:0.4 于:yu:0.4 杜:du:0.4 叶:ye:0.4 程:cheng:0.4
    魏:wei:0.3 苏:su:0.3 吕:lv:0.3 丁:ding:0.3 任:ren:0.3 卢:lu:0.3 姚:yao:0.3 沈:shen:0.3
    钟:zhong:0.3 姜:jiang:0.3 崔:cui:0.3 谭:tan:0.3 陆:lu:0.3 范:fan:0.2 汪:wang:0.2
    廖:liao:0.2 石:shi:0.2 金:jin:0.2 韦:wei:0.2 贾:jia:0.2 夏:xia:0.2 付:fu:0.2 方:fang:0.2
    欧阳:ouyang:0.05 司马:sima:0.02 上官:shangguan:0.02
    """
)

GIVEN_MALE = _name_parts(
    """
    伟:wei 强:qiang 磊:lei 军:jun 勇:yong 杰:jie 涛:tao 斌:bin 超:chao 明:ming 刚:gang
    平:ping 辉:hui 鹏:peng 华:hua 飞:fei 鑫:xin 波:bo 宇:yu 浩:hao 建:jian 国:guo 志:zhi
    文:wen 博:bo 俊:jun 凯:kai 峰:feng 晨:chen 阳:yang 东:dong 海:hai 林:lin 成:cheng
    龙:long 天:tian 子:zi 轩:xuan 昊:hao 然:ran 睿:rui 泽:ze 宏:hong 亮:liang 新:xin
    民:min 德:de 嘉:jia 振:zhen 毅:yi
    """
)

GIVEN_FEMALE = _name_parts(
    """
    芳:fang 娜:na 敏:min 静:jing 丽:li 艳:yan 娟:juan 霞:xia 秀:xiu 英:ying 玲:ling 燕:yan
    婷:ting 雪:xue 慧:hui 洁:jie 琳:lin 颖:ying 倩:qian 佳:jia 欣:xin 怡:yi 梅:mei 红:hong
    萍:ping 莉:li 晶:jing 璐:lu 楠:nan 雨:yu 涵:han 诗:shi 梦:meng 思:si 月:yue 悦:yue
    琪:qi 瑶:yao 蕾:lei 薇:wei 晓:xiao 丹:dan 春:chun 桂:gui 兰:lan 凤:feng 玉:yu 珍:zhen
    彤:tong 文:wen
    """
)

ENGLISH_FIRST_MALE = _words(
    """
    James John Robert Michael William David Richard Joseph Thomas Charles Daniel Matthew
    Andrew Mark Paul Steven Kevin Brian George Edward Peter Ryan Jason Eric Kenneth Oliver
    Henry Lucas Ethan Samuel
    """
)

ENGLISH_FIRST_FEMALE = _words(
    """
    Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Emily Emma
    Olivia Sophia Grace Chloe Hannah Laura Rachel Anna Amy Helen Lucy Alice Megan Natalie
    Victoria Claire Julia Zoe
    """
)

ENGLISH_LAST = _words(
    """
    Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore
    Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright
    Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans
    Turner Parker Collins O'Brien Wong Chan Lee Lam Cheung Ho Lau Ng
    """
)

CITIES: tuple[City, ...] = (
    City(
        "BJ",
        "北京市",
        "Beijing",
        "北京市",
        39.904,
        116.407,
        0.14,
        _districts(
            "110101:东城区:Dongcheng 110102:西城区:Xicheng 110105:朝阳区:Chaoyang "
            "110106:丰台区:Fengtai 110108:海淀区:Haidian 110112:通州区:Tongzhou "
            "110114:昌平区:Changping"
        ),
    ),
    City(
        "SH",
        "上海市",
        "Shanghai",
        "上海市",
        31.230,
        121.474,
        0.15,
        _districts(
            "310101:黄浦区:Huangpu 310104:徐汇区:Xuhui 310105:长宁区:Changning "
            "310106:静安区:Jing'an 310107:普陀区:Putuo 310110:杨浦区:Yangpu "
            "310112:闵行区:Minhang 310115:浦东新区:Pudong"
        ),
    ),
    City(
        "GZ",
        "广州市",
        "Guangzhou",
        "广东省",
        23.129,
        113.264,
        0.11,
        _districts(
            "440103:荔湾区:Liwan 440104:越秀区:Yuexiu 440105:海珠区:Haizhu "
            "440106:天河区:Tianhe 440111:白云区:Baiyun 440113:番禺区:Panyu"
        ),
    ),
    City(
        "SZ",
        "深圳市",
        "Shenzhen",
        "广东省",
        22.543,
        114.058,
        0.11,
        _districts(
            "440303:罗湖区:Luohu 440304:福田区:Futian 440305:南山区:Nanshan "
            "440306:宝安区:Bao'an 440307:龙岗区:Longgang"
        ),
    ),
    City(
        "CD",
        "成都市",
        "Chengdu",
        "四川省",
        30.573,
        104.066,
        0.08,
        _districts(
            "510104:锦江区:Jinjiang 510105:青羊区:Qingyang 510106:金牛区:Jinniu "
            "510107:武侯区:Wuhou 510108:成华区:Chenghua"
        ),
    ),
    City(
        "HZ",
        "杭州市",
        "Hangzhou",
        "浙江省",
        30.274,
        120.155,
        0.07,
        _districts(
            "330102:上城区:Shangcheng 330105:拱墅区:Gongshu 330106:西湖区:Xihu "
            "330108:滨江区:Binjiang 330109:萧山区:Xiaoshan"
        ),
    ),
    City(
        "WH",
        "武汉市",
        "Wuhan",
        "湖北省",
        30.593,
        114.305,
        0.06,
        _districts(
            "420102:江岸区:Jiang'an 420103:江汉区:Jianghan 420106:武昌区:Wuchang "
            "420111:洪山区:Hongshan"
        ),
    ),
    City(
        "NJ",
        "南京市",
        "Nanjing",
        "江苏省",
        32.060,
        118.797,
        0.06,
        _districts(
            "320102:玄武区:Xuanwu 320104:秦淮区:Qinhuai 320105:建邺区:Jianye 320106:鼓楼区:Gulou"
        ),
    ),
    City(
        "XA",
        "西安市",
        "Xi'an",
        "陕西省",
        34.341,
        108.940,
        0.05,
        _districts(
            "610102:新城区:Xincheng 610103:碑林区:Beilin 610104:莲湖区:Lianhu 610113:雁塔区:Yanta"
        ),
    ),
    City(
        "CQ",
        "重庆市",
        "Chongqing",
        "重庆市",
        29.563,
        106.551,
        0.07,
        _districts(
            "500103:渝中区:Yuzhong 500105:江北区:Jiangbei 500106:沙坪坝区:Shapingba "
            "500108:南岸区:Nan'an"
        ),
    ),
    City(
        "TJ",
        "天津市",
        "Tianjin",
        "天津市",
        39.343,
        117.362,
        0.05,
        _districts(
            "120101:和平区:Heping 120103:河西区:Hexi 120104:南开区:Nankai 120105:河北区:Hebei"
        ),
    ),
    City(
        "SU",
        "苏州市",
        "Suzhou",
        "江苏省",
        31.299,
        120.585,
        0.05,
        _districts("320505:虎丘区:Huqiu 320506:吴中区:Wuzhong 320508:姑苏区:Gusu"),
    ),
)

# Birthplace area codes outside the branch cities (people who moved to a branch city).
OTHER_BIRTH_AREAS = _words(
    """
    130102 130202 130302 410102 410305 411302 370102 370202 370602 430102 430602 431102
    340102 340302 360102 360702 450102 350102 350203 530102 230102 210102 210202 220102
    140105 620102 520102 150102
    """
)

ROADS: tuple[tuple[str, str], ...] = (
    ("人民路", "Renmin Road"),
    ("中山路", "Zhongshan Road"),
    ("解放路", "Jiefang Road"),
    ("建设路", "Jianshe Road"),
    ("长江路", "Changjiang Road"),
    ("和平路", "Heping Road"),
    ("文化路", "Wenhua Road"),
    ("新华路", "Xinhua Road"),
    ("学院路", "Xueyuan Road"),
    ("光明路", "Guangming Road"),
    ("东风路", "Dongfeng Road"),
    ("友谊路", "Youyi Road"),
    ("青年路", "Qingnian Road"),
    ("滨江大道", "Binjiang Avenue"),
    ("世纪大道", "Century Avenue"),
    ("科技园路", "Science Park Road"),
)

FOREIGN_CITIES: tuple[ForeignCity, ...] = (
    ForeignCity("Hong Kong", "HK", "HKD", 480, 22.319, 114.169),
    ForeignCity("Macau", "MO", "HKD", 480, 22.199, 113.544),
    ForeignCity("Tokyo", "JP", "JPY", 540, 35.676, 139.650),
    ForeignCity("Osaka", "JP", "JPY", 540, 34.694, 135.502),
    ForeignCity("Singapore", "SG", "SGD", 480, 1.352, 103.820),
    ForeignCity("London", "GB", "GBP", 0, 51.507, -0.128),
    ForeignCity("Paris", "FR", "EUR", 60, 48.857, 2.352),
    ForeignCity("Frankfurt", "DE", "EUR", 60, 50.110, 8.682),
    ForeignCity("New York", "US", "USD", -300, 40.713, -74.006),
    ForeignCity("Los Angeles", "US", "USD", -480, 34.052, -118.244),
)

# Relative popularity of each foreign city as a trip destination (same order as above).
FOREIGN_TRIP_WEIGHTS = (0.24, 0.10, 0.16, 0.08, 0.10, 0.06, 0.07, 0.04, 0.08, 0.07)

# Mainland mobile prefixes (1[3-9]x).
PHONE_PREFIXES = _words(
    """
    130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 176 177
    178 180 181 182 183 184 185 186 187 188 189 198 199
    """
)

EMAIL_DOMAINS = (
    "163.com",
    "126.com",
    "qq.com",
    "sina.com",
    "foxmail.com",
    "gmail.com",
    "outlook.com",
    "hotmail.com",
)

# First octets of mainland consumer ISP address blocks (for app event IPs).
IP_FIRST_OCTETS = (
    36,
    39,
    42,
    58,
    59,
    60,
    61,
    101,
    106,
    110,
    111,
    112,
    113,
    114,
    115,
    116,
    117,
    118,
    119,
    120,
    121,
    122,
    123,
    124,
    125,
    171,
    175,
    180,
    182,
    183,
    202,
    211,
    218,
    219,
    220,
    221,
    222,
    223,
)

# External banks: (code used in external account ids, name as shown on a payment).
EXTERNAL_BANKS: tuple[tuple[str, str], ...] = (
    ("ICBC", "中国工商银行"),
    ("CCB", "中国建设银行"),
    ("ABC", "中国农业银行"),
    ("BOC", "中国银行"),
    ("BOCOM", "交通银行"),
    ("CMB", "招商银行"),
    ("SPDB", "浦发银行"),
    ("CIB", "兴业银行"),
    ("CITIC", "China CITIC Bank"),
    ("HSBC", "HSBC Bank (China)"),
)

COMPANY_WORDS_CN = (
    "华信",
    "恒通",
    "瑞丰",
    "天成",
    "中科",
    "联创",
    "博远",
    "新锐",
    "东方",
    "嘉禾",
    "汇智",
    "长城",
    "星辰",
    "鼎盛",
    "宏图",
    "云帆",
)
COMPANY_TRADES_CN = (
    "科技",
    "贸易",
    "物流",
    "建设",
    "医药",
    "教育",
    "传媒",
    "餐饮管理",
    "电子",
    "咨询",
)
COMPANY_WORDS_EN = (
    "Pacific",
    "Golden Bridge",
    "Evergreen",
    "Orient",
    "Silverline",
    "Summit",
    "Harbor",
    "Blue Sky",
    "Crescent",
    "Pioneer",
)
COMPANY_TRADES_EN = ("Trading", "Logistics", "Technology", "Consulting", "Manufacturing", "Foods")

# Utility companies and the purpose customers write on their bill payments.
UTILITY_PAYEES = (
    ("国家电网", "电费"),
    ("中国移动", "话费"),
    ("中国联通", "话费"),
    ("中国电信", "话费"),
    ("自来水公司", "水费"),
    ("燃气公司", "燃气费"),
    ("物业管理中心", "物业费"),
)
