"""qbo_sandbox: a local emulator of QuickBooks Online (Accounting API v3 + Intuit OAuth 2.0).

See README.md and CONTRACT.md. It shares no code or database with the app on purpose.
"""
