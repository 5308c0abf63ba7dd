#!/usr/bin/env node
// Entry point of the `srv-lookup` command (compiled code lives in dist/; run `npm run build` first).
'use strict';
require('../dist/cli/srv-lookup.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
