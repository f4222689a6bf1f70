"""Failed logins limited per user name and per client address (a sliding window in memory).

Past the limit a login is refused with 429 and ``Retry-After`` before its password is even
checked, so guessing costs the attacker time and the server no argon2 work. A successful login
clears the failures of its user name. The counts live in the server process (a restart clears
them), which is what a single labelling server needs.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from fastapi import HTTPException


class LoginLimiter:
    def __init__(self, *, per_user: int, per_ip: int, window_seconds: float, max_keys: int = 100_000):
        self.per_user, self.per_ip, self.window = per_user, per_ip, float(window_seconds)
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        q = self._failures.get(key)
        if q is not None:
            while q and q[0] <= now - self.window:
                q.popleft()
            if not q:
                del self._failures[key]
                return None
        return q

    def check(self, username: str, ip: str | None) -> None:
        """Raise 429 when this user name or address used up its failures in the window."""
        now = time.monotonic()
        with self._lock:
            for key, limit, what in ((("user", username.lower()), self.per_user, f"for user '{username}'"),
                                     (("ip", ip or "?"), self.per_ip, "from your address")):
                q = self._recent(key, now)
                if limit > 0 and q is not None and len(q) >= limit:
                    wait = max(1, math.ceil(q[0] + self.window - now))
                    raise HTTPException(
                        429,
                        f"too many failed logins {what}: {len(q)} in the last {self.window:.0f} s; try again in {wait} s",
                        headers={"Retry-After": str(wait)},
                    )

    def failed(self, username: str, ip: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= self.max_keys:  # bounded memory under a spray of names
                for k in list(self._failures):  # drop what has aged out first
                    self._recent(k, now)
                if len(self._failures) >= self.max_keys:
                    self._failures.clear()
            for key in (("user", username.lower()), ("ip", ip or "?")):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("user", username.lower()), None)
