/**
 * How a path's cost grows with the database (pure): seconds per GiB (the slope of a
 * least-squares line through the sizes) and the exponent b of a power fit t = a·size^b (a
 * least-squares line in log-log space: b ≈ 1 grows linearly, b < 1 has a fixed part that
 * dominates small sizes, b > 1 grows faster than the data).
 */

export interface Point {
  gib: number;
  seconds: number;
}

export interface Growth {
  secondsPerGiB: number | null;
  exponent: number | null;
  points: Point[];
}

/** Pure: the growth of `points` (sizes in GiB, seconds); null where fewer than two sizes are usable. */
export function growthOf(points: Point[]): Growth {
  const usable = points.filter((p) => p.gib > 0 && p.seconds > 0 && Number.isFinite(p.seconds));
  if (new Set(usable.map((p) => p.gib)).size < 2) return { secondsPerGiB: null, exponent: null, points };
  const slope = (xs: number[], ys: number[]) => {
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const sxy = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
    const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    return sxy / sxx;
  };
  const secondsPerGiB = slope(
    usable.map((p) => p.gib),
    usable.map((p) => p.seconds),
  );
  const exponent = slope(
    usable.map((p) => Math.log(p.gib)),
    usable.map((p) => Math.log(p.seconds)),
  );
  return { secondsPerGiB, exponent, points };
}
