"""Staff of firms (物业从业人员) in GraphQL: members with masked personal data, their certificates and shifts; a member of staff's own cases and steps."""
