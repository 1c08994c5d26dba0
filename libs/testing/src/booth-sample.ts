/** One menu line of a seed-004 booth, with the upstream spelling kept. */
export type BoothMenu = {
  menuName: string;
  /** Sic: the upstream API spells it `Ingredident`; clients must map this exact key. */
  menuIngredidentReminder: string;
  menuSalesQuantity: number;
};

/** A booth as the seed-004 festival platform returns it. */
export type BoothItem = {
  boothName: string;
  boothAllTable: number;
  boothUsageTable: number;
  menus: BoothMenu[];
};

const MENUS: readonly (readonly [name: string, ingredient: string])[] = [
  ['Tteokbokki', 'rice cake'],
  ['Eomuk', 'fish cake'],
  ['Kimbap', 'seaweed rice roll'],
  ['Hotteok', 'brown sugar'],
  ['Sundae', 'glass noodles'],
];

/**
 * Deterministic seed-004 booth items: `Booth 1` … `Booth <count>` (default 3). Booth 1 is
 * `{ boothName: 'Booth 1', boothAllTable: 10, boothUsageTable: 3, menus: [Tteokbokki × 12] }`;
 * later booths vary tables and carry one to three menus, usage never above capacity.
 */
export function boothSample(count = 3): BoothItem[] {
  return Array.from({ length: count }, (_, index) => {
    const boothAllTable = 10 + (index % 3) * 2;
    const menus = Array.from({ length: 1 + (index % 3) }, (_, m) => {
      const [menuName, menuIngredidentReminder] = MENUS[(index + m) % MENUS.length]!;
      return { menuName, menuIngredidentReminder, menuSalesQuantity: 12 + index * 7 + m * 5 };
    });
    return {
      boothName: `Booth ${index + 1}`,
      boothAllTable,
      boothUsageTable: (3 + index * 4) % (boothAllTable + 1),
      menus,
    };
  });
}
