"""``fin360 bench``: measurements on generated data. ``pipeline``: the whole chain at several
scale factors against floors; ``graph``: the graph engine on a generated graph."""
