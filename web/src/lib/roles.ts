import type { Role } from "@/lib/api/wire";

/** The roles an admin can give: the contract's Role without its zero value (tsc checks each name). */
export const ROLES: Role[] = ["user", "organizer", "admin"];
