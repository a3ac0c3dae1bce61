"""Business catalogues of the synthetic bank: products, segments, MCCs, merchants, complaints.

Plain data with the parameters that drive the generator's behaviour models. Strings here end
up inside JSON and CSV values, so they must not contain double quotes, backslashes or line
breaks (checked by the tests), except complaint templates, which may contain quotes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    """One row of the product catalogue (`products` source)."""

    code: str
    name: str
    category: str
    min_age: int
    risk_level: int
    currency: str


PRODUCTS: tuple[Product, ...] = (
    Product("SAV001", "Everyday Savings 活期储蓄", "savings", 0, 1, "CNY"),
    Product("SAV002", "Youth Savings 青春储蓄", "savings", 16, 1, "CNY"),
    Product("SAV003", "Foreign Currency Savings 外币储蓄", "savings", 18, 1, "USD"),
    Product("CUR001", "Personal Current Account 个人结算账户", "current", 18, 1, "CNY"),
    Product("CUR002", "Business Current Account 对公结算账户", "current", 18, 1, "CNY"),
    Product("CC001", "Classic Credit Card 经典信用卡", "credit_card", 18, 2, "CNY"),
    Product("CC002", "Platinum Credit Card 白金信用卡", "credit_card", 25, 2, "CNY"),
    Product("CC003", "Travel Rewards Credit Card 旅行信用卡", "credit_card", 21, 2, "CNY"),
    Product("LN001", "Personal Loan 个人消费贷款", "loan", 18, 3, "CNY"),
    Product("LN002", "Home Mortgage 个人住房贷款", "loan", 20, 2, "CNY"),
    Product("LN003", "Auto Loan 汽车贷款", "loan", 18, 3, "CNY"),
    Product("LN004", "Small Business Loan 小微企业贷款", "loan", 22, 4, "CNY"),
    Product("WM001", "Capital Preservation Fund 稳健理财", "wealth", 18, 1, "CNY"),
    Product("WM002", "Balanced Growth Fund 平衡理财", "wealth", 18, 3, "CNY"),
    Product("WM003", "Equity Growth Fund 进取理财", "wealth", 18, 5, "CNY"),
)

PRODUCT_INDEX = {p.code: i for i, p in enumerate(PRODUCTS)}
LOAN_PRODUCTS = ("LN001", "LN002", "LN003", "LN004")


@dataclass(frozen=True)
class Segment:
    """A latent customer segment and the parameters of every behaviour it drives.

    Probabilities are per person unless stated otherwise; rates are per person per day.
    """

    name: str
    share: float
    age_range: tuple[int, int]
    male_share: float
    income_median: float
    income_sigma: float
    savings_factor: float  # savings balance / annual income (median)
    default_logit: float
    card_txn_rate: float
    ecom_share: float
    contactless_share: float
    traveller_share: float
    amount_log_shift: float
    app_session_rate: float
    credit_card: float
    current_account: float
    wealth: float
    loan: float
    loan_mix: tuple[float, float, float, float]  # weights of LOAN_PRODUCTS
    salaried: float
    complaint_rate: float
    occupations: tuple[str, ...]
    product_interest: tuple[str, ...]  # products this segment looks at in the app


SEGMENTS: tuple[Segment, ...] = (
    Segment(
        name="young_digital",
        share=0.24,
        age_range=(19, 32),
        male_share=0.5,
        income_median=96_000,
        income_sigma=0.45,
        savings_factor=0.3,
        default_logit=-2.35,
        card_txn_rate=0.80,
        ecom_share=0.45,
        contactless_share=0.65,
        traveller_share=0.10,
        amount_log_shift=-0.25,
        app_session_rate=0.45,
        credit_card=0.70,
        current_account=0.10,
        wealth=0.05,
        loan=0.30,
        loan_mix=(0.70, 0.05, 0.25, 0.0),
        salaried=0.85,
        complaint_rate=0.032,
        occupations=("软件工程师", "设计师", "销售", "产品经理", "学生", "运营专员"),
        product_interest=("CC001", "CC003", "LN001", "SAV002", "WM002"),
    ),
    Segment(
        name="mass_affluent",
        share=0.12,
        age_range=(30, 60),
        male_share=0.55,
        income_median=600_000,
        income_sigma=0.50,
        savings_factor=0.6,
        default_logit=-3.70,
        card_txn_rate=0.75,
        ecom_share=0.25,
        contactless_share=0.50,
        traveller_share=0.45,
        amount_log_shift=0.55,
        app_session_rate=0.20,
        credit_card=0.90,
        current_account=0.30,
        wealth=0.70,
        loan=0.35,
        loan_mix=(0.15, 0.65, 0.20, 0.0),
        salaried=0.70,
        complaint_rate=0.022,
        occupations=("企业高管", "医生", "律师", "金融分析师", "大学教授", "合伙人"),
        product_interest=("WM002", "WM003", "CC002", "SAV003", "LN002"),
    ),
    Segment(
        name="salaried_family",
        share=0.34,
        age_range=(28, 50),
        male_share=0.5,
        income_median=180_000,
        income_sigma=0.40,
        savings_factor=0.3,
        default_logit=-3.00,
        card_txn_rate=0.55,
        ecom_share=0.25,
        contactless_share=0.45,
        traveller_share=0.12,
        amount_log_shift=0.0,
        app_session_rate=0.18,
        credit_card=0.60,
        current_account=0.20,
        wealth=0.15,
        loan=0.50,
        loan_mix=(0.25, 0.55, 0.20, 0.0),
        salaried=0.95,
        complaint_rate=0.022,
        occupations=("教师", "公务员", "工程师", "会计", "护士", "技术员"),
        product_interest=("LN002", "LN003", "SAV001", "WM001", "CC001"),
    ),
    Segment(
        name="senior_saver",
        share=0.18,
        age_range=(58, 85),
        male_share=0.45,
        income_median=70_000,
        income_sigma=0.40,
        savings_factor=1.2,
        default_logit=-3.40,
        card_txn_rate=0.20,
        ecom_share=0.05,
        contactless_share=0.20,
        traveller_share=0.08,
        amount_log_shift=-0.20,
        app_session_rate=0.03,
        credit_card=0.20,
        current_account=0.05,
        wealth=0.45,
        loan=0.08,
        loan_mix=(0.80, 0.10, 0.10, 0.0),
        salaried=0.90,  # pensions arrive like salaries
        complaint_rate=0.018,
        occupations=("退休", "退休教师", "退休工人", "退休干部"),
        product_interest=("SAV001", "WM001", "WM002"),
    ),
    Segment(
        name="small_business",
        share=0.12,
        age_range=(28, 60),
        male_share=0.6,
        income_median=350_000,
        income_sigma=0.70,
        savings_factor=0.4,
        default_logit=-2.45,
        card_txn_rate=0.60,
        ecom_share=0.30,
        contactless_share=0.45,
        traveller_share=0.20,
        amount_log_shift=0.25,
        app_session_rate=0.25,
        credit_card=0.70,
        current_account=0.90,
        wealth=0.25,
        loan=0.50,
        loan_mix=(0.20, 0.20, 0.10, 0.50),
        salaried=0.0,
        complaint_rate=0.075,  # the dissatisfied segment: fees, limits, service
        occupations=("个体经营", "企业主", "餐饮店老板", "网店店主", "装修承包商"),
        product_interest=("LN004", "CUR002", "CC002", "WM002"),
    ),
)

ENGLISH_OCCUPATIONS = (
    "Engineer",
    "Consultant",
    "Teacher",
    "Manager",
    "Retired",
    "Business Owner",
    "Designer",
    "Student",
)

# Employers in pension-paying role for seniors.
PENSION_PAYER = "社会保险基金管理中心"


@dataclass(frozen=True)
class Mcc:
    """A merchant category with the log-normal spend model of one card transaction (CNY)."""

    code: str
    label: str
    median_amount: float
    sigma: float
    ecom: bool  # can be bought online
    weekend_factor: float  # weekend / weekday popularity
    travel_factor: float  # popularity while on a trip abroad


MCCS: tuple[Mcc, ...] = (
    Mcc("5411", "grocery", 85, 0.75, False, 1.1, 0.6),
    Mcc("5812", "restaurants", 120, 0.65, False, 1.4, 1.8),
    Mcc("5814", "fast_food", 35, 0.45, False, 0.8, 1.0),
    Mcc("5541", "fuel", 280, 0.35, False, 1.0, 0.1),
    Mcc("5732", "electronics", 900, 1.00, True, 1.3, 1.0),
    Mcc("4111", "transport", 12, 0.70, True, 0.6, 1.5),
    Mcc("5999", "misc_retail", 110, 0.95, True, 1.1, 1.0),
    Mcc("7011", "hotels", 650, 0.55, True, 1.5, 6.0),
    Mcc("4511", "airlines", 1500, 0.60, True, 1.0, 2.0),
    Mcc("6011", "atm_cash", 800, 0.60, False, 1.0, 1.0),
    Mcc("5311", "department_stores", 350, 0.80, False, 1.6, 1.5),
    Mcc("5912", "pharmacy", 70, 0.70, False, 0.9, 0.5),
    Mcc("7832", "cinema", 75, 0.40, True, 2.0, 0.3),
    Mcc("5691", "clothing", 300, 0.70, True, 1.5, 1.5),
    Mcc("5944", "jewellery", 5000, 0.80, False, 1.3, 1.5),
    Mcc("7995", "gambling", 2500, 1.00, True, 1.5, 1.0),
)

MCC_INDEX = {m.code: i for i, m in enumerate(MCCS)}

# Everyday spend mix per segment (same order as MCCS). Jewellery and gambling are zero here:
# only persons with that habit use them, so they are a usable anomaly signal for the rest.
MCC_MIX: dict[str, tuple[float, ...]] = {
    "young_digital": (14, 18, 16, 3, 4, 16, 14, 1, 1, 2, 4, 2, 4, 6, 0, 0),
    "mass_affluent": (15, 20, 6, 8, 4, 5, 10, 4, 3, 2, 8, 3, 3, 7, 0, 0),
    "salaried_family": (26, 14, 8, 8, 3, 7, 12, 1.5, 1, 3, 7, 4, 2, 5, 0, 0),
    "senior_saver": (34, 10, 6, 3, 1, 6, 6, 1, 0.5, 6, 6, 12, 1, 2, 0, 0),
    "small_business": (16, 18, 8, 10, 6, 6, 14, 3, 3, 4, 5, 2, 2, 4, 0, 0),
}

# Card transactions per hour of local day (relative), weekdays and weekends.
CARD_HOURS_WEEKDAY = (
    0.25,
    0.12,
    0.07,
    0.05,
    0.05,
    0.10,
    0.40,
    1.10,
    1.60,
    1.30,
    1.20,
    1.80,
    2.80,
    2.20,
    1.30,
    1.20,
    1.40,
    2.00,
    2.70,
    3.00,
    2.60,
    1.90,
    1.10,
    0.55,
)
CARD_HOURS_WEEKEND = (
    0.40,
    0.25,
    0.12,
    0.07,
    0.05,
    0.06,
    0.15,
    0.40,
    0.80,
    1.20,
    1.60,
    2.20,
    2.90,
    2.50,
    1.90,
    1.80,
    1.90,
    2.30,
    2.90,
    3.20,
    2.90,
    2.20,
    1.40,
    0.80,
)
# App sessions per hour of local day (relative).
APP_HOURS = (
    0.30,
    0.15,
    0.08,
    0.05,
    0.05,
    0.10,
    0.50,
    1.40,
    1.80,
    1.20,
    1.00,
    1.10,
    1.70,
    1.40,
    1.00,
    0.90,
    1.00,
    1.20,
    1.50,
    1.90,
    2.30,
    2.50,
    2.00,
    1.00,
)

# Merchant brands per MCC: (Chinese brands, English brands).
MERCHANT_BRANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "5411": (
        ("华润万家", "永辉超市", "物美超市", "联华超市", "盒马鲜生"),
        ("Walmart", "Carrefour", "FamilyMart", "7-Eleven", "Lawson"),
    ),
    "5812": (
        ("海底捞火锅", "西贝莜面村", "外婆家", "太二酸菜鱼", "小龙坎火锅"),
        ("Starbucks", "Pizza Hut", "Din Tai Fung", "Blue Frog", "Wagas"),
    ),
    "5814": (
        ("沙县小吃", "兰州拉面", "真功夫", "老乡鸡"),
        ("McDonald's", "KFC", "Burger King", "Subway"),
    ),
    "5541": (("中国石化加油站", "中国石油加油站"), ("Shell", "BP", "Esso")),
    "5732": (
        ("苏宁易购", "国美电器", "京东电器"),
        ("Apple Store", "Best Buy", "Bic Camera", "Xiaomi Store"),
    ),
    "4111": (("地铁", "公交集团", "滴滴出行"), ("Metro", "Uber", "City Transit")),
    "5999": (
        ("淘宝", "拼多多", "京东商城", "名创优品"),
        ("Amazon", "AliExpress", "Muji", "Miniso"),
    ),
    "7011": (
        ("如家酒店", "汉庭酒店", "全季酒店", "锦江之星"),
        ("Marriott", "Hilton", "Hyatt", "Holiday Inn", "Ibis"),
    ),
    "4511": (
        ("中国国际航空", "东方航空", "南方航空", "海南航空"),
        ("Cathay Pacific", "Singapore Airlines", "British Airways", "Air France", "ANA"),
    ),
    "6011": (
        ("工商银行ATM", "建设银行ATM", "招商银行ATM"),
        ("HSBC ATM", "Citibank ATM", "Seven Bank ATM"),
    ),
    "5311": (
        ("万达广场", "银泰百货", "王府井百货", "太古汇"),
        ("Uniqlo", "IKEA", "Isetan", "Harrods", "Macy's"),
    ),
    "5912": (
        ("老百姓大药房", "大参林药房", "同仁堂"),
        ("Watsons", "Boots", "Matsumoto Kiyoshi", "Walgreens"),
    ),
    "7832": (("万达影城", "大地影院", "CGV影城"), ("IMAX", "AMC Theatres", "Odeon")),
    "5691": (("优衣库", "太平鸟", "海澜之家", "李宁"), ("Zara", "H&M", "Nike", "Adidas")),
    "5944": (
        ("周大福珠宝", "老凤祥银楼", "六福珠宝"),
        ("Tiffany & Co.", "Cartier", "Chow Tai Fook"),
    ),
    "7995": ((), ("Venetian Casino", "Galaxy Casino", "Wynn Palace", "Lucky Star Gaming")),
}

# Complaint categories: name -> (Chinese templates, English templates). Slots: {amount},
# {month}, {day}, {minutes}, {times}, {branch}, {product}. Templates may contain commas and
# quotes (the CSV writer quotes them) but never line breaks.
COMPLAINT_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fees": (
        (
            "{month}月{day}日被扣了{amount}元的年费,之前说好免年费的,请退还。",
            "账户管理费{amount}元是怎么来的?没有任何通知,非常不满。",
            "跨行转账收了{amount}元手续费,其他银行都免费,希望取消。",
            "短信通知费每月都扣,我从来没有开通过“短信提醒”,请核查。",
        ),
        (
            "I was charged a {amount} CNY annual fee on {month}/{day}, although the card was "
            'sold as "free for life". Please refund.',
            "Why is there a {amount} CNY account maintenance fee? Nobody told me about it.",
            "Transfer fee of {amount} CNY again, other banks charge nothing, very disappointed.",
            "Hidden fees, again. Please explain the {amount} CNY deduction.",
        ),
    ),
    "card_blocked": (
        (
            "我的卡在{month}月{day}日无故被冻结,打了{times}次客服电话都没解决。",
            "出国旅游刷卡被拒,提示“交易异常”,耽误了行程,请给个说法。",
            "银行卡突然被锁,柜台让我等{minutes}分钟,最后还是没办好。",
            "卡被风控冻结了,说要本人到{branch}办理,太不方便了!",
        ),
        (
            "My card was blocked on {month}/{day} without any reason. I called {times} times, "
            "still not solved.",
            'Card declined abroad with message "suspicious transaction", ruined my trip.',
            "Card locked again, the branch kept me waiting {minutes} minutes, nothing done.",
            "Why do I have to visit {branch} in person to unblock my card? Ridiculous.",
        ),
    ),
    "app_crash": (
        (
            "手机银行APP一打开就闪退,已经{times}天了,转账都转不了。",
            "APP更新后登录一直提示“系统繁忙,请稍后再试”,请尽快修复。",
            "用APP转账时卡住,钱扣了对方没收到,急!",
            "人脸识别总是失败,试了{times}次,APP体验太差。",
        ),
        (
            "The mobile app crashes on startup for {times} days now, cannot make any transfer.",
            'After the update, login always says "system busy, try later". Fix it please.',
            "App froze during a transfer, money left my account but never arrived!",
            "Face recognition failed {times} times in a row, the app is unusable.",
        ),
    ),
    "loan_rate": (
        (
            "贷款利率比当初承诺的高,每月多还{amount}元,要求调整。",
            "{product}的利率为什么突然上调?合同里没有写清楚。",
            "提前还款要收违约金,之前客户经理根本没提过,不合理。",
            "申请降息{times}次都没有回复,服务太差。",
        ),
        (
            "My loan rate is higher than promised, I pay {amount} CNY more every month.",
            "Why did the rate of my {product} go up? The contract does not say so.",
            "Early repayment penalty was never mentioned by the advisor, this is unfair.",
            "Asked {times} times for a rate review, no answer at all.",
        ),
    ),
    "service_attitude": (
        (
            "{branch}的柜员态度很差,排队等了{minutes}分钟还被催促。",
            "客服电话打了{times}次都转不到人工,机器人答非所问。",
            "大堂经理一直推销理财产品,我说了“不需要”还是不停打扰。",
            "网点只开了一个窗口,等了{minutes}分钟,效率太低。",
        ),
        (
            "Staff at {branch} were rude, I waited {minutes} minutes and was rushed anyway.",
            "Called the hotline {times} times, never reached a human, the bot is useless.",
            'The lobby manager kept pushing wealth products after I said "no thanks".',
            "Only one counter open, {minutes} minutes of waiting, terrible efficiency.",
        ),
    ),
    "praise": (
        (
            "{branch}的工作人员非常耐心,帮我很快办好了业务,点赞!",
            "客服处理问题很及时,{minutes}分钟就解决了,谢谢。",
            "APP新版本很好用,转账又快又方便,给个好评。",
            "感谢客户经理的专业建议,{product}很适合我。",
        ),
        (
            "The team at {branch} was very patient and helpful, thank you!",
            "Hotline solved my issue in {minutes} minutes, great service.",
            "New app version is fast and easy, transfers are instant. Well done.",
            "Thanks to my advisor for the advice, the {product} suits me well.",
        ),
    ),
}

# Optional first and last words of a complaint, per language (Chinese, English).
COMPLAINT_OPENERS = (
    ("", "", "您好,", "你好\uff0c", "投诉:", "【紧急】"),
    ("", "", "Hello,", "Hi team,", "To whom it may concern:"),
)
COMPLAINT_CLOSERS = (
    ("", "", "谢谢。", "请尽快回复!", "联系电话同预留号码。"),
    ("", "", "Thanks.", "Please call me back.", "Regards"),
)

# Complaint channels and category mix per segment (same order as COMPLAINT_TEMPLATES).
COMPLAINT_CHANNELS = ("phone", "app", "branch", "email", "wechat")
COMPLAINT_MIX: dict[str, tuple[float, ...]] = {
    "young_digital": (0.20, 0.15, 0.35, 0.05, 0.10, 0.15),
    "mass_affluent": (0.25, 0.15, 0.10, 0.10, 0.20, 0.20),
    "salaried_family": (0.25, 0.15, 0.15, 0.20, 0.10, 0.15),
    "senior_saver": (0.20, 0.10, 0.10, 0.05, 0.40, 0.15),
    "small_business": (0.35, 0.15, 0.10, 0.20, 0.15, 0.05),
}
