import { openConformanceContext, runTypeConformance } from "./conformance.js";
const ctx = await openConformanceContext();
for (const type of ["bf16", "q8_0", "q4_0"] as const) for (const tokenSeed of [1, 2, 3]) {
  const r = await runTypeConformance(type, ctx, { tokenSeed, reference: false });
  console.log(type, tokenSeed, r.top1_agreement.toFixed(4), r.disagreements.length, r.max_rel_logit_err.toExponential(2));
}
await ctx.dispose();
