"""The maintenance fund (专项维修资金) and public revenue (公共收益) of an estate's owners."""
