"""City operations and the 12345 hotline (城市运行管理服务平台 / 12345 政务服务便民热线): the
work-order feed connector (`feed.CityOpsFeed`, kind `cityops-feed`), its orders stream, place
linking shared with the Open311 face, the GCJ-02 transform, and a reference feed to run against."""
