/**
 * Tracker protocol v1 (`GET /i`, `/ice.png`): the querystring is the event. Failures are `adapter_failures`.
 */
import { failure, inputData, queryParams, success, toRawEvent } from './common.js';
import type { Adapter } from './types.js';

const VENDOR = 'com.snowplowanalytics.snowplow';
const VERSION = 'tp1';

export const tp1Adapter: Adapter = {
  vendor: VENDOR,
  version: VERSION,
  toRawEvents(p) {
    const params = queryParams(p, 'adapter_failures');
    if (!(params instanceof Map)) return params;
    if (params.size === 0) {
      // Upstream's wording, "URI redirect" included.
      return failure(
        'adapter_failures',
        inputData('querystring', null, 'empty querystring: not a valid URI redirect'),
      );
    }
    return success([toRawEvent(p, VENDOR, VERSION, params)]);
  },
};
