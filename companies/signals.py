"""What the companies app announces to the layers above it, which it may not import.

`master_data_pulled(sender=Company, company=...)` is sent by `company_refresh_pull` once the
pulled master data is stored (its transaction committed), before the pull returns; the expenses
app rechecks the open expenses coded against what changed (`expenses/apps.py`). A signal rather
than a task one layer up chaining the pull and the recheck: every pull is then followed by the
recheck, whoever runs it (the refresh task, the demo seed, a shell), and the refresh tasks keep
queueing each other directly. It is sent with `send`: a receiver that fails fails the pull's
task as before, and the next refresh rechecks again.

`company_disconnected(sender=Company, company=..., reason=...)` is sent by
`company_connection_lost` in the transaction that moves the company to disconnected, once per
move; `reason` says in plain words what was seen. The notices app records it with the move
(`notices/apps.py`), so the move and its notice are kept or lost together.
"""

from django.dispatch import Signal

master_data_pulled = Signal()

company_disconnected = Signal()
