"""Metadata stage: inventory every carrier in the input container.

Nothing is copied from the input container to the output: the writer encodes the
decoded pixels into a fresh container. The inventory exists so the report can say
what was removed, and so verification can prove the output carries nothing.
"""
from .classify import classify, metadata_findings
from .mask import mask_value
from .photo import inventory_container

__all__ = ["classify", "inventory_container", "mask_value", "metadata_findings"]
