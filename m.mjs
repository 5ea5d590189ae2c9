import { Worker } from 'node:worker_threads';
import { gemm } from '/work/main/dist/esm/backend/js/gemm.js';
const ctl = new SharedArrayBuffer(256), data = new SharedArrayBuffer(64 << 20);
const C = new Int32Array(ctl); const F = new Float64Array(ctl, 64);
const w = new Worker(new URL('./w.mjs', import.meta.url), { workerData: { ctl, data } }); w.unref();
while (Atomics.load(C, 2) !== 1) await new Promise(r => setTimeout(r, 10));
const shapes = [[128,512,784],[128,256,512],[128,784,512],[512,784,128]];
const sf = new Float32Array(data);
function par(m, n, k, a, b, c) {
  // NT, split m; copy a,b into SAB
  sf.set(a, 0); const bOff = a.length; sf.set(b, bOff); const cOff = bOff + b.length;
  const h = (m >> 1) - ((m >> 1) % 3);
  F[0]=0;F[1]=1;F[2]=m-h;F[3]=n;F[4]=k;F[5]=h*k;F[6]=bOff;F[7]=cOff+h*n;
  Atomics.store(C,1,0); Atomics.add(C,0,1); Atomics.notify(C,0);
  gemm(false, true, h, n, k, 1, sf.subarray(0, h*k), sf.subarray(bOff, bOff+n*k), 0, sf.subarray(cOff, cOff+h*n));
  while (Atomics.load(C,1) !== 1) Atomics.wait(C,1,0);
  c.set(sf.subarray(cOff, cOff+m*n));
}
for (const [m,n,k] of shapes) {
  const a = Float32Array.from({length:m*k}, ()=>Math.random()-0.5), b = Float32Array.from({length:n*k}, ()=>Math.random()-0.5);
  const c1 = new Float32Array(m*n), c2 = new Float32Array(m*n);
  for (let r = 0; r < 3; r++) {
    let t = performance.now(); for (let i=0;i<5;i++) gemm(false,true,m,n,k,1,a,b,0,c1); const ts=(performance.now()-t)/5;
    t = performance.now(); for (let i=0;i<5;i++) par(m,n,k,a,b,c2); const tp=(performance.now()-t)/5;
    let same = c1.every((v,i)=>Object.is(v,c2[i]));
    console.log(m,n,k,'serial',ts.toFixed(2),'par',tp.toFixed(2),'x',(ts/tp).toFixed(2), same);
  }
}
process.exit(0);
