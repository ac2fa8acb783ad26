"""Property firms (物业服务企业) and the estates they manage over time."""
