"""Outside payment gateways: httpx clients that speak their protocol (Toss Payments first).

No storage, no business decisions: a client confirms and looks up payments and says
plainly what it knows (DONE, declined, not found) and what it does not (timeout, 5xx).
"""
