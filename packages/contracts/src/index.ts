export {
  BOOKING_CACHE_FIELDS,
  BOOKING_CACHE_PREFIX,
  type Booking,
  type BookingRow,
  BookingSchema,
  BookingStatus,
  type CachedBooking,
  CONSISTENCY_HEADER,
  cachedBooking,
  mayAccessBooking,
  toBooking,
} from './booking.ts';
export { EventEnvelope, encodeMessageBody, messageGroupId, type Notification, NotificationSchema } from './events.ts';
