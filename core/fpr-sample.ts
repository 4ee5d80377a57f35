// Which correct-answer solutions are rated for the false-positive rate (by the LLM judge and by humans):
// a seeded sample stratified by difficulty level where the problems have levels, uniform otherwise. Pure.
import { unitHash } from './hash.js';

/** The rule, as the report and the labelling sheet state it. */
export const FPR_SAMPLE_DEFINITION =
  'Solutions rated for the FPR are a seeded sample of the correct-answer solutions, stratified by the ' +
  "problems' difficulty level where levels exist (proportional allocation), uniform otherwise. Within " +
  'each level the solutions are ranked by a seeded hash; the r-th (from 0) of a level holding n of them ' +
  'gets the position (r + 1/2) / n, and a sample of m takes the m lowest positions (ties: seeded hash of ' +
  "the level's name). That is Sainte-Laguë apportionment of m over the levels in proportion to their " +
  'sizes, and it is nested: a larger sample only adds solutions, so a human sample of 50 lies inside ' +
  "the judge's sample of 500 drawn with the same seed.";

/** Key of solutions without a level when others have one: they form a stratum of their own. */
export const NO_LEVEL = '(no level)';

export interface StratifiedSampleOptions<T> {
  count: number;
  seed: number;
  /** A stable, unique key of an item (question id and sample index). */
  keyOf: (item: T) => string;
  /** The item's difficulty level; undefined when its problem has none. */
  levelOf: (item: T) => string | undefined;
}

/**
 * A seeded sample of `count` items, stratified by level when any item has one (see
 * `FPR_SAMPLE_DEFINITION`), in the items' original order. All items when `count` covers them.
 */
export function stratifiedSample<T>(items: readonly T[], options: StratifiedSampleOptions<T>): T[] {
  const { count, seed, keyOf, levelOf } = options;
  if (count >= items.length) return [...items];
  if (count <= 0) return [];
  const stratified = items.some((item) => levelOf(item) !== undefined);
  const strata = new Map<string, number[]>();
  items.forEach((item, index) => {
    const level = stratified ? (levelOf(item) ?? NO_LEVEL) : '';
    let members = strata.get(level);
    if (!members) strata.set(level, (members = []));
    members.push(index);
  });
  const ranked: Array<{ index: number; position: number; tie: number; level: string }> = [];
  for (const [level, members] of strata) {
    const tie = unitHash(`${seed}\u0000level\u0000${level}`);
    const order = members
      .map((index) => ({ index, rank: unitHash(`${seed}\u0000${keyOf(items[index])}`) }))
      .sort((a, b) => a.rank - b.rank || a.index - b.index);
    order.forEach(({ index }, r) => {
      ranked.push({ index, position: (r + 0.5) / members.length, tie, level });
    });
  }
  ranked.sort(
    (a, b) =>
      a.position - b.position ||
      a.tie - b.tie ||
      (a.level < b.level ? -1 : a.level > b.level ? 1 : 0) ||
      a.index - b.index,
  );
  return ranked
    .slice(0, count)
    .map(({ index }) => index)
    .sort((a, b) => a - b)
    .map((index) => items[index]);
}

/** How many of `items` each level holds (for stating a sample's allocation); {} without levels. */
export function countByLevel<T>(
  items: readonly T[],
  levelOf: (item: T) => string | undefined,
): Record<string, number> {
  if (!items.some((item) => levelOf(item) !== undefined)) return {};
  const counts: Record<string, number> = {};
  for (const item of items) {
    const level = levelOf(item) ?? NO_LEVEL;
    counts[level] = (counts[level] ?? 0) + 1;
  }
  return counts;
}
