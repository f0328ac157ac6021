"""Implementation of :mod:`authcore.apikeys` (private: import from ``authcore.apikeys``)."""
