"""Party building (党建): party organisations, their members, and members' claims of cases."""
