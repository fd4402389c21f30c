/** A promise with its resolve and reject functions, settled by the test when it chooses. */
export { defer as deferred, type Deferred } from '../../lib/internal/deferred.js';
