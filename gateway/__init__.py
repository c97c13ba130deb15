"""The portal's line to Codat: the client factory and its exchange log (`exchanges`), each
company's call slots (`call_slots`), the redaction of what the log keeps (`redaction`) and which
expenses API generation a company speaks (`apis`).

It sits between the plain client (`codat`) and the domain apps, and imports none of them:
companies are referred to by label (`"companies.Company"`) and by id."""
