/** What the organizer pages say to a signed-in viewer who is no organizer (nor admin), by the API's word. */
export function NotOrganizer({ title }: { title: string }) {
  return (
    <div className="space-y-2" data-testid="not-organizer">
      <h1 className="text-2xl font-bold">{title}</h1>
      <p className="text-muted-foreground">Organizer pages are for organizers. An admin can give your account the organizer role.</p>
    </div>
  );
}
