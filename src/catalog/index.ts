export {
  Catalog,
  type CatalogOptions,
  type CatalogStatus,
  type CatalogStorage,
  type SessionRow,
  type WriteTxRow,
  type CheckpointRow,
  type SnapshotRow,
  type ProcessStartRow,
  type DuplicateRequestRow,
  type AliveRow,
  type SessionFilter,
} from './catalog.js';
export { CATALOG_FILE, CATALOG_SCHEMA_VERSION } from './schema.js';
