"""Vectorised value validators: is each value a valid instance of a format?

Every validator in ``VALIDATORS`` is called with a string array (Arrow
``Array`` or ``ChunkedArray``) and returns a numpy bool array with one entry
per value: True where the value is a valid instance, False elsewhere and for
nulls. Callers cast other column types to string first.

Convention: **every registered validator normalises its input itself** with
``normalise`` (NFKC folding of full-width characters, Unicode dashes to ``-``,
whitespace trimmed), so callers pass raw sampled values. Normalising twice
changes nothing; ``Validator.check`` skips the step for values that are
already normalised.

A validator beats a pattern: the identity, vehicle, card and device
validators test checksums, dates and region codes, so that 18 random digits
are not an ID number. The ``*_shape`` validators and the format-only ones
(``passport``, ``hk_macau_permit``, ``tw_permit``, ``hex_digest``,
``base64_digest``) match shapes that random codes also have, so weigh them
with a column name hint.

Names, by module:

- identity: ``resident_id``, ``resident_id_shape``, ``passport``,
  ``hk_macau_permit``, ``tw_permit``
- vehicle: ``vin``, ``vin_shape``, ``licence_plate``
- contact: ``mobile_phone``, ``landline_phone``, ``phone``, ``email``
- payment: ``luhn``, ``bank_card``, ``bank_card_cn``
- device: ``imei``, ``imsi``, ``iccid``, ``mac_address``
- network: ``ipv4``, ``ipv6``, ``ip_address``
- credential: ``password_hash``, ``hex_digest``, ``base64_digest``
- redaction: ``masked``
- dates: ``date``

``is_valid(name, value)`` checks a single string, for free-text recognizers.
"""

from __future__ import annotations

from classifiers.validators import (  # noqa: F401  (imported to register)
    contact,
    credential,
    dates,
    device,
    identity,
    network,
    payment,
    redaction,
    vehicle,
)
from classifiers.validators.base import (
    VALIDATORS,
    Check,
    Validator,
    is_valid,
    normalise,
)

__all__ = ["VALIDATORS", "Check", "Validator", "is_valid", "normalise"]
