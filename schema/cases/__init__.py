"""Cases (工单) in GraphQL: `cases`, `case`, and the `moveCase` mutation along the 12345 lifecycle."""
