/**
 * /bff/<anything else>: no route of the app (a mistyped path, /bff/api with
 * no path): a 404 in the API's envelope, not the not-found page's HTML.
 */
import { errorResponse } from "@/lib/bff";

export const dynamic = "force-dynamic";

const nothing = () => errorResponse(404, "NOT_FOUND", "no route of the app here: /bff/api/<path>, /bff/public/<path>, /bff/session/*, /bff/door/*");

export { nothing as GET, nothing as POST, nothing as PUT, nothing as PATCH, nothing as DELETE };
