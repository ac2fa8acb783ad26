"""Party building (党建) in GraphQL: organisations, members, claims of cases, figures."""
