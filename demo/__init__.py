"""The demo seed: sign-ins, companies onboarded against the embedded sandbox, and their expenses.

It sits above every app (it drives their services as a person would), so it may import any of
them and none of them imports it."""
