"""The two devices a page is loaded as: Lighthouse's mobile and desktop settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str  # "phone" | "desktop"
    width: int  # CSS px of the viewport
    height: int
    dpr: float  # device pixel ratio
    mobile: bool  # mobile viewport meta handling, touch
    cpu_slowdown: float  # Emulation.setCPUThrottlingRate
    down_kbps: int  # Network.emulateNetworkConditions, in kilobits/s here (bytes/s there)
    up_kbps: int
    rtt_ms: int


# Lighthouse's "slow 4G" phone (Moto G Power size, 4x CPU) and its desktop throttling.
PHONE = Profile("phone", 412, 915, 2.625, True, 4.0, 1600, 750, 150)
DESKTOP = Profile("desktop", 1350, 940, 1.0, False, 1.0, 10000, 10000, 40)
PROFILES = (PHONE, DESKTOP)
