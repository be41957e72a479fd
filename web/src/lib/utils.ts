/** Class-name helper of shadcn/ui: joins conditional classes and resolves Tailwind conflicts. */
import { clsx, type ClassValue } from "clsx";
import { twMerge } from "tailwind-merge";

export function cn(...inputs: ClassValue[]) {
  return twMerge(clsx(inputs));
}
