/** Budget periods on the UTC calendar: the ledger key of the current period and when it ends. */
import type { BudgetPeriod } from "./Policy.ts"

export const all: ReadonlyArray<BudgetPeriod> = ["total", "monthly", "weekly", "daily"]

const day = (d: Date) => d.toISOString().slice(0, 10)

const startOfWeek = (now: number): Date => {
  const d = new Date(now)
  const utc = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
  // ISO weeks start on Monday.
  return new Date(utc - ((d.getUTCDay() + 6) % 7) * 86_400_000)
}

export const key = (period: BudgetPeriod, now: number): string => {
  const d = new Date(now)
  switch (period) {
    case "total":
      return "total"
    case "daily":
      return `d${day(d)}`
    case "weekly":
      return `w${day(startOfWeek(now))}`
    case "monthly":
      return `m${d.toISOString().slice(0, 7)}`
  }
}

/** When the period's spend starts again from zero; undefined for `total`. */
export const resetsAt = (period: BudgetPeriod, now: number): Date | undefined => {
  const d = new Date(now)
  switch (period) {
    case "total":
      return undefined
    case "daily":
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1))
    case "weekly":
      return new Date(startOfWeek(now).getTime() + 7 * 86_400_000)
    case "monthly":
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))
  }
}

/** How long a dated ledger entry is worth keeping (a little past its period). */
export const retentionSeconds = (period: BudgetPeriod): number | undefined => {
  switch (period) {
    case "total":
      return undefined
    case "daily":
      return 3 * 86_400
    case "weekly":
      return 15 * 86_400
    case "monthly":
      return 62 * 86_400
  }
}

export const label = (period: BudgetPeriod): string =>
  period === "total" ? "in total" : period === "daily" ? "today" : period === "weekly" ? "this week" : "this month"
