"""Firms' credit (物业服务企业信用评价) in GraphQL: scores with their parts, lists, the computation."""
