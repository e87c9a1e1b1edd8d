/**
 * Which members own partitions (`watchTags`, README.md#ring-guide): every listed tag must be
 * present and match its RegExp (unanchored, as Go's MatchString) or equal its string; or a
 * predicate decides. With no filter every member qualifies. Members that do not qualify still
 * gossip and can route.
 */
import { invalidOption } from '../errors.js';
import type { Tags } from '../serf/tags.js';

export type WatchTags = Readonly<Record<string, RegExp | string>> | ((tags: Tags, name: string) => boolean);
export type MemberFilter = (tags: Tags, name: string) => boolean;

export function compileWatchTags(watchTags: WatchTags | undefined): MemberFilter {
  if (watchTags === undefined) return () => true;
  if (typeof watchTags === 'function') return watchTags;
  if (watchTags === null || typeof watchTags !== 'object' || Array.isArray(watchTags)) {
    throw invalidOption('watchTags', 'an object of tag → RegExp or string, or a predicate', watchTags);
  }
  const rules = Object.entries(watchTags).map(([tag, want]) => {
    if (want instanceof RegExp) {
      // A fresh, state-free copy: a /g or /y RegExp keeps lastIndex between test() calls.
      const re = new RegExp(want.source, want.flags.replace(/[gy]/g, ''));
      return (value: string) => re.test(value);
    }
    if (typeof want === 'string') return (value: string) => value === want;
    throw invalidOption(`watchTags.${tag}`, 'a RegExp or a string', want);
  });
  const tags = Object.keys(watchTags);
  return (memberTags) => tags.every((tag, i) => memberTags[tag] !== undefined && rules[i]!(memberTags[tag]));
}
