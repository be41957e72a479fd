import { Suspense } from "react";

import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";

/** The frame of the sign-in pages. */
export function AuthPage({ title, description, children }: { title: string; description?: string; children: React.ReactNode }) {
  return (
    <Card className="mx-auto max-w-md">
      <CardHeader>
        <CardTitle as="h1" className="text-2xl">
          {title}
        </CardTitle>
        {description && <CardDescription>{description}</CardDescription>}
      </CardHeader>
      <CardContent>
        <Suspense>{children}</Suspense>
      </CardContent>
    </Card>
  );
}
