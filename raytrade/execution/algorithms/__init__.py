"""Execution algorithms, one module each behind one protocol and a registry: a new algorithm is a
module with a class decorated by :func:`register` and its import here.

``ALGORITHMS`` maps ``twap``, ``vwap``, ``pov`` and ``almgren_chriss`` to their classes;
:func:`make_algorithm` builds one for a parent from its params.
"""

from raytrade.execution.algorithms.almgren_chriss import AlmgrenChriss, almgren_chriss_trajectory
from raytrade.execution.algorithms.base import (
    ALGORITHMS,
    ExecutionAlgorithm,
    ParentSpec,
    make_algorithm,
    whole_lot_slices,
)
from raytrade.execution.algorithms.pov import POV
from raytrade.execution.algorithms.twap import TWAP
from raytrade.execution.algorithms.vwap import VWAP, crypto_volume_profile, u_shape_profile

__all__ = ["ALGORITHMS", "POV", "TWAP", "VWAP", "AlmgrenChriss", "ExecutionAlgorithm", "ParentSpec",
           "almgren_chriss_trajectory", "crypto_volume_profile", "make_algorithm", "u_shape_profile",
           "whole_lot_slices"]
