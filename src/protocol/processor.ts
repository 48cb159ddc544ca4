/** The processor named in bad rows and in `v_etl` (`<artifact>-<version>`). */
export interface Processor {
  artifact: string;
  version: string;
}

export const FURROW_PROCESSOR: Processor = { artifact: 'furrow-enrich', version: '0.1.0' };
