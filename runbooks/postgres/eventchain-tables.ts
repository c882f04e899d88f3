/** The EventChain application's tables, parents before children (the order a restore checks them in). */
export const EVENTCHAIN_TABLES = ["organizations", "users", "events", "tickets", "payments"] as const;
export type EventChainTable = (typeof EVENTCHAIN_TABLES)[number];
