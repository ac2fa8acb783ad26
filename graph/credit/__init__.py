"""Firms' credit (物业服务企业信用评价): a score per property firm and period, its parts shown."""
