-- PetPro operational schema (mirrors the application). Idempotent: safe to run repeatedly.

do $$ begin
  create type user_role as enum ('admin', 'vendor', 'customer', 'system');
exception when duplicate_object then null; end $$;
do $$ begin
  create type gender as enum ('male', 'female', 'other');
exception when duplicate_object then null; end $$;
do $$ begin
  create type pet_species as enum ('dog', 'cat', 'bird', 'fish', 'reptile', 'small_mammal', 'other');
exception when duplicate_object then null; end $$;
do $$ begin
  create type pet_gender as enum ('male', 'female', 'unknown');
exception when duplicate_object then null; end $$;
do $$ begin
  create type vendor_status as enum ('pending', 'pending_approval', 'active', 'inactive', 'suspended');
exception when duplicate_object then null; end $$;
do $$ begin
  create type service_category as enum ('grooming', 'veterinary', 'boarding', 'daycare', 'training', 'walking', 'other');
exception when duplicate_object then null; end $$;
do $$ begin
  create type booking_status as enum ('pending', 'confirmed', 'in_progress', 'completed', 'cancelled', 'no_show');
exception when duplicate_object then null; end $$;
do $$ begin
  create type payment_status as enum ('pending', 'authorized', 'paid', 'failed', 'refunded');
exception when duplicate_object then null; end $$;
do $$ begin
  create type payment_method as enum ('credit_card', 'bank_account', 'paypal');
exception when duplicate_object then null; end $$;
do $$ begin
  create type review_status as enum ('pending', 'published', 'hidden');
exception when duplicate_object then null; end $$;
do $$ begin
  create type activity_type as enum (
    'login', 'logout', 'profile_update', 'password_changed', 'email_verified',
    'booking_created', 'booking_updated', 'booking_cancelled', 'payment_made', 'payment_refunded',
    'pet_created', 'pet_updated', 'pet_removed', 'review_submitted', 'address_added',
    'address_updated', 'address_removed', 'notification_settings_updated', 'account_created',
    'account_deactivated', 'account_reactivated');
exception when duplicate_object then null; end $$;

create table if not exists users (
  id uuid primary key default gen_random_uuid(),
  first_name varchar(100) not null,
  last_name varchar(100) not null,
  email varchar(255) not null unique,
  password_hash varchar(255) not null,
  phone varchar(32),
  role user_role not null default 'customer',
  is_email_verified boolean not null default false,
  active boolean not null default true,
  date_of_birth date,
  gender gender,
  preferred_language varchar(10) default 'en',
  last_login timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

create table if not exists user_addresses (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  street varchar(255),
  city varchar(100),
  state varchar(100),
  country varchar(100),
  postal_code varchar(20),
  is_default boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists pets (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references users (id) on delete cascade,
  name varchar(100) not null,
  species pet_species not null,
  breed varchar(100),
  birth_date date,
  gender pet_gender not null default 'unknown',
  weight_kg numeric(5, 2),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

create table if not exists vendors (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  business_name varchar(255) not null,
  city varchar(100),
  state varchar(100),
  country varchar(100),
  status vendor_status not null default 'pending',
  average_rating numeric(3, 2),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists services (
  id uuid primary key default gen_random_uuid(),
  vendor_id uuid not null references vendors (id) on delete cascade,
  name varchar(255) not null,
  category service_category not null,
  price numeric(10, 2) not null,
  currency char(3) not null default 'USD',
  duration_minutes integer,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists bookings (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  service_id uuid not null references services (id) on delete cascade,
  pet_id uuid references pets (id) on delete set null,
  start_time timestamptz not null,
  end_time timestamptz not null,
  status booking_status not null default 'pending',
  amount numeric(10, 2) not null,
  currency char(3) not null default 'USD',
  cancellation_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists payments (
  id uuid primary key default gen_random_uuid(),
  booking_id uuid not null references bookings (id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  amount numeric(10, 2) not null,
  currency char(3) not null default 'USD',
  status payment_status not null default 'pending',
  method payment_method not null,
  paid_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists reviews (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  booking_id uuid references bookings (id) on delete cascade,
  service_id uuid references services (id) on delete cascade,
  vendor_id uuid references vendors (id) on delete cascade,
  rating smallint not null check (rating between 1 and 5),
  status review_status not null default 'pending',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists activities (
  id uuid primary key default gen_random_uuid(),
  user_id uuid references users (id) on delete cascade,
  type activity_type not null,
  description varchar(255),
  metadata jsonb not null default '{}'::jsonb,
  ip_address varchar(45),
  user_agent text,
  "timestamp" timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index if not exists activities_user_id_idx on activities (user_id);
create index if not exists activities_type_idx on activities (type);
create index if not exists activities_timestamp_idx on activities ("timestamp");
create index if not exists activities_updated_at_idx on activities (updated_at);
create index if not exists user_addresses_user_id_idx on user_addresses (user_id);
create index if not exists pets_owner_id_idx on pets (owner_id);
create index if not exists bookings_user_id_idx on bookings (user_id);
create index if not exists bookings_updated_at_idx on bookings (updated_at);
create index if not exists payments_booking_id_idx on payments (booking_id);
create index if not exists payments_updated_at_idx on payments (updated_at);
create index if not exists users_updated_at_idx on users (updated_at);

-- updated_at is maintained by the database so that every writer (application, simulator,
-- manual fixes) moves the extraction cursor. Bulk loads that must keep historical
-- updated_at values set `petpro.keep_updated_at = on` for their transaction.
create or replace function petpro_touch_updated_at() returns trigger
language plpgsql as $$
begin
  if coalesce(current_setting('petpro.keep_updated_at', true), 'off') <> 'on' then
    new.updated_at := now();
  end if;
  return new;
end $$;

do $$
declare t text;
begin
  foreach t in array array['users', 'user_addresses', 'pets', 'vendors', 'services', 'bookings',
                           'payments', 'reviews', 'activities'] loop
    execute format('drop trigger if exists %I_touch_updated_at on %I', t, t);
    execute format('create trigger %I_touch_updated_at before update on %I '
                   'for each row execute function petpro_touch_updated_at()', t, t);
  end loop;
end $$;
