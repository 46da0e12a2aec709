/**
 * RECORDING_FILE_TEMPLATE: where a recording's media goes under RECORDINGS_PATH. Egress expands
 * `{room_id}`, `{time}` and `{utc}`; the service expands the rest before asking, since egress leaves
 * unknown placeholders in the key as they are: `{room_name}` (made URL-safe), and the UTC date parts
 * `{yyyy}`, `{mm}`, `{dd}`, `{hh}`. A recording's handle is the file name (the last segment), so
 * that segment must be unique: it needs `{room_id}` and `{utc}` (one recording at a time per room,
 * milliseconds apart).
 */
export const DEFAULT_FILE_TEMPLATE = '{room_name}-{room_id}-{utc}.mp4';

const PLACEHOLDERS = ['room_name', 'room_id', 'time', 'utc', 'yyyy', 'mm', 'dd', 'hh'] as const;
const LITERAL = /^[A-Za-z0-9_.-]*$/;

/** What is wrong with a template, or undefined when it is usable. */
export function fileTemplateProblem(template: string): string | undefined {
  const segments = template.split('/');
  for (const segment of segments) {
    if (segment === '' || segment.startsWith('.')) return 'no empty segments, none starting with "." (no leading "/", no "..")';
    const literal = segment.replace(/\{(\w+)\}/g, (whole, key: string) => ((PLACEHOLDERS as readonly string[]).includes(key) ? '' : whole));
    if (!LITERAL.test(literal)) return `only ${PLACEHOLDERS.map((key) => `{${key}}`).join(', ')}, letters, digits, "_", "-", "." and "/"`;
  }
  const fileName = segments.at(-1)!;
  if (!fileName.includes('{room_id}') || !fileName.includes('{utc}'))
    return 'the file name (after the last "/") needs {room_id} and {utc}, so that it is unique';
  return undefined;
}

/** The media path to ask egress for: ours expanded, egress's left for it, ".mp4" unless given. */
export function expandFileTemplate(template: string, safeRoomName: string, at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const ours: Record<string, string> = {
    room_name: safeRoomName,
    yyyy: String(at.getUTCFullYear()),
    mm: two(at.getUTCMonth() + 1),
    dd: two(at.getUTCDate()),
    hh: two(at.getUTCHours()),
  };
  const expanded = template.replace(/\{(room_name|yyyy|mm|dd|hh)\}/g, (_, key: string) => ours[key]);
  return /\.mp4$/i.test(expanded) ? expanded : `${expanded}.mp4`;
}
