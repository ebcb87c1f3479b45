/** True for a time zone the runtime's IANA database knows (`Europe/Paris`, `UTC`), false for `Mars/Olympus`. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
