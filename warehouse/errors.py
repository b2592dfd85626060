"""The named errors of the warehouse side."""


class WarehouseError(Exception):
    """The warehouse file cannot be used; the message names the file and what to do."""


class WarehouseLocked(WarehouseError):
    """Another process held the warehouse file for longer than our retries waited."""


class SchemaTooNew(WarehouseError):
    """The file was migrated by a newer Mast than this one."""
