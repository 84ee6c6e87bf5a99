// Worker thread of mintSeriesParallel: mints tokens [from, to) of a series.
import { createPrivateKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { claimsFor, mintJwt } from './tokens.mjs';

const { alg, keyPem, iss, series, from, to } = workerData;
const key = createPrivateKey(keyPem);
const tokens = [];
for (let i = from; i < to; i++) tokens.push(mintJwt(alg, key, claimsFor(iss, series, i)));
parentPort.postMessage(tokens);
