// Where a matrix product stores its rows. A stacked product's matrix is up to three weights with their rows
// one after another (q, k, v; gate, up): segment 0 is rows [0, seg_row1), segment 1 [seg_row1, seg_row2),
// segment 2 [seg_row2, M). Each segment goes to its own region of y (segment 0 at 0, 1 and 2 at float
// offsets seg_base1 and seg_base2), laid out as an unstacked product of that weight alone would write it:
// token t's rows after one another. An unstacked product has seg_row1 = seg_row2 = M: t·M + r.
// Include after the push-constant block `pc`, which must declare M, seg_row1, seg_row2, seg_base1, seg_base2.

// The y index of row r of token t (t counts from the first token the product writes).
uint out_index(uint t, uint r) {
  if (r < pc.seg_row1) return t * pc.seg_row1 + r;
  if (r < pc.seg_row2) return pc.seg_base1 + t * (pc.seg_row2 - pc.seg_row1) + (r - pc.seg_row1);
  return pc.seg_base2 + t * (pc.M - pc.seg_row2) + (r - pc.seg_row2);
}
