import pkg from '../package.json' with { type: 'json' };

/** Herald's version, sent as `User-Agent: Herald/<version>` and exported as herald_build_info. */
export const VERSION: string = pkg.version;
