// Small shared rules for names and ids, written once: what a UUID looks like, and how a host name
// becomes part of a file name (lock files, the agent id, the inventory schedule are kept per host).

/** A UUID as the database writes it (any version), whole string. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The same pattern inside a larger one (a URL route), as a capturing group. */
export const UUID_GROUP = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';

export const isUuid = (value: string): boolean => UUID.test(value);

/** A host name fit for a file name: anything but letters, digits, '_', '.', '-' becomes '_'. */
export const hostFileName = (host: string): string => host.replace(/[^A-Za-z0-9_.-]/g, '_');
