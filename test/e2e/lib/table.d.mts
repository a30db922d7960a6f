export function parseTable(text: string): Record<string, string>[];
