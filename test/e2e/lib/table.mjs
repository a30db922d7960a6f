// Parsing of kubectl's default table output (`kubectl get dest`). Pure: unit-tested in
// test/unit/e2e/table.test.ts.

/**
 * Rows of a kubectl table as objects keyed by the lower-cased column header. Columns are cut at the
 * header's start offsets (kubectl aligns every cell under its header), so empty cells and values
 * with spaces are read right.
 * @param {string} text
 * @returns {Record<string, string>[]}
 */
export function parseTable(text) {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = lines[0];
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0].toLowerCase(), at: m.index }));
  return lines.slice(1).map((line) => {
    const row = {};
    starts.forEach((c, i) => {
      const end = i + 1 < starts.length ? starts[i + 1].at : line.length;
      row[c.name] = line.slice(c.at, end).trim();
    });
    return row;
  });
}
