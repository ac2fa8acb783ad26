"""The people who serve (物业从业人员): staff records, their certificates and shifts, and the
dispatch of cases to a person by place and skill (智能派单)."""
