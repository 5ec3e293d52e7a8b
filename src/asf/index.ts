/** Pure ASF: GUIDs, header objects, data packets, file layout, live headers, file writer, stream parser. */
export * from './guid.js';
export * from './header.js';
export * from './header-objects.js';
export * from './packet.js';
export * from './file.js';
export * from './writer.js';
export * from './stream-parser.js';
export * from './header-builders.js';
export * from './protection.js';
export * from './packet-facts.js';
export * from './layout-cache.js';
