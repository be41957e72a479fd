import type { Role } from "@/lib/api/wire";

/** The roles an admin can give: the contract's Role without its zero value (tsc checks each name). */
export const ROLES: Role[] = ["user", "organizer", "admin"];

/**
 * Whether user may manage event (its organizer, or an admin), as the API
 * decides each change. A published event's public read is anybody's, so
 * the organizer's pages ask this before showing their controls. A user not
 * known from the cookies (no br_user) is left to the API's answers.
 */
export function mayManage(user: { id: string; role: string } | null, event: { organizer_id: string }): boolean {
  return !user || user.role === "admin" || (user.role === "organizer" && user.id === event.organizer_id);
}
